#pragma once
// The frame every tool's main() runs in: CLI11 parsing, one-line errors on
// stderr, exit codes (0 ok, 1 "found something", 2 error), stdout checked.
#include <functional>
#include <string_view>

#include <CLI/CLI.hpp>

namespace vmi {

constexpr int EXIT_OK = 0;
constexpr int EXIT_FOUND = 1;
constexpr int EXIT_ERROR = 2;

int run_tool(std::string_view name, std::string_view description, int argc, char** argv,
             const std::function<void(CLI::App&)>& define, const std::function<int()>& run);

} // namespace vmi
