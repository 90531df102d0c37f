#pragma once
// Messages to stderr, each one line prefixed with the tool's name:
// warnings always, verbose notes only with -v.
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace vmi::diag {

void set_program(std::string_view name);
const std::string& program();
void set_verbose(bool on);
bool verbose();

void emit_warning(std::string_view message);
void emit_note(std::string_view message);

template <typename... Args>
void warn(fmt::format_string<Args...> format, Args&&... args)
{
    emit_warning(fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
void note(fmt::format_string<Args...> format, Args&&... args)
{
    if (verbose()) emit_note(fmt::format(format, std::forward<Args>(args)...));
}

} // namespace vmi::diag
