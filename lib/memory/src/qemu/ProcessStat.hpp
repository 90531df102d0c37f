#pragma once
// One field of a process's (or thread's) /proc/.../stat line, numbered as in
// proc(5): 3 is the state letter, 22 the start time. The fields are counted
// after "pid (comm)", whose comm may hold spaces and parentheses.
#include <optional>
#include <string>

namespace vmi {

// nullopt when the file cannot be read (the process is gone) or has no such field.
std::optional<std::string> proc_stat_field(const std::string& stat_path, int number);

} // namespace vmi
