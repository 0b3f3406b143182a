#include "cli/commands.h"

int main(int argc, char** argv) {
  return fraudguard::RunCli(argc, argv);
}
