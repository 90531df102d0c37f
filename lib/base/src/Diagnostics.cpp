#include "vmi/base/Diagnostics.hpp"

#include <cstdio>

namespace vmi::diag {
namespace {
std::string program_name = "vmi";
bool verbose_on = false;
} // namespace

void set_program(std::string_view name) { program_name = std::string(name); }
const std::string& program() { return program_name; }
void set_verbose(bool on) { verbose_on = on; }
bool verbose() { return verbose_on; }

void emit_warning(std::string_view message)
{
    std::fflush(stdout);
    fmt::print(stderr, "{}: warning: {}\n", program_name, message);
}

void emit_note(std::string_view message)
{
    std::fflush(stdout);
    fmt::print(stderr, "{}: {}\n", program_name, message);
}

} // namespace vmi::diag
