#pragma once
// Where a config file is looked for when -c is not given: LibVMI's places
// first, then ours.
#include <optional>
#include <string>
#include <vector>

namespace vmi {

std::vector<std::string> config_search_path();
// The first existing file of the search path, if any.
std::optional<std::string> find_config_file();

} // namespace vmi
