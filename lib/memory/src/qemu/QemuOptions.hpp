#pragma once
// QEMU's command-line syntax, as a process's argv shows it: options written
// "-name VALUE", "--name VALUE" or "-name=VALUE", and values that are comma
// lists of "key=value" parts (",," standing for a comma).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmi {

// The parts of a comma list ("socket,id=mon0,path=/x"); the first may be a
// bare value (the option's implied key).
std::vector<std::string> qemu_option_parts(const std::string& text);

// The value of part `key` ("path" of "path=/x"); nullopt when none.
std::optional<std::string> qemu_part_value(const std::vector<std::string>& parts, std::string_view key);

// The value of option `name` at argv[i] (then i moves past a separate value);
// nullopt when argv[i] is another option.
std::optional<std::string> qemu_option_value(const std::vector<std::string>& argv, std::size_t& i,
                                             std::string_view name);

// Every value of option `name` on the command line argv (argv[0] the binary), in order.
std::vector<std::string> qemu_option_values(const std::vector<std::string>& argv, std::string_view name);

} // namespace vmi
