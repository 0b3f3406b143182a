// Writing a whole output file (a model, rules, a chart, manifests) so that a reader never sees
// half of it: the content goes to "<path>.tmp", which is then renamed over `path`.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace fraudguard {

// The error names the path and what failed; the temporary file is removed on failure.
Status WriteFileReplacing(const std::string& path, std::string_view content);

}  // namespace fraudguard
