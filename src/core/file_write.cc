#include "core/file_write.h"

#include <cstdio>
#include <fstream>

namespace fraudguard {

Status WriteFileReplacing(const std::string& path, std::string_view content) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) {
      std::remove(temporary.c_str());
      return Error{"cannot write " + temporary};
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    return Error{"cannot rename " + temporary + " to " + path};
  }
  return OkStatus();
}

}  // namespace fraudguard
