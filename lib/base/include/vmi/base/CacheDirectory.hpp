#pragma once
// Where vmitools keeps what it learns between runs, one folder per kind of
// entry: $VMI_CACHE_DIR/KIND, else $XDG_CACHE_HOME/vmitools/KIND, else
// ~/.cache/vmitools/KIND.
#include <string>
#include <string_view>

namespace vmi {

// The folder for `kind` ("btf", "kernels"); empty when the environment
// variable `switch_variable` (VMI_BTF_CACHE, ...) is "0" or no home is known.
// The folder may not exist yet.
std::string cache_directory(std::string_view kind, const char* switch_variable);

} // namespace vmi
