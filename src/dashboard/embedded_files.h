// The operations dashboard's files (dashboard/ in the repository), built into the binary by
// cmake/embed_files.cmake so that `fraudguard serve` needs nothing on disk to show the page.
#pragma once

#include <span>
#include <string_view>

namespace fraudguard::dashboard {

struct EmbeddedFile {
  std::string_view name;   // path below dashboard/, for example "app.js"
  std::string_view bytes;  // the file's exact contents
};

// Every embedded file, in the order CMakeLists.txt lists them.
std::span<const EmbeddedFile> EmbeddedFiles();

}  // namespace fraudguard::dashboard
