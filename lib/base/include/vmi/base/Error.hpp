#pragma once
// The one exception type the library throws for anything a user must be told:
// bad input, unreadable guest memory, missing symbols. Tools print what() as a
// single line and exit 2.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace vmi {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args)
{
    throw Error(fmt::format(format, std::forward<Args>(args)...));
}

} // namespace vmi
