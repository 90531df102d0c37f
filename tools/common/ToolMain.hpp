#pragma once
// The frame every tool's main() runs in: CLI11 parsing, one-line errors on
// stderr, exit codes (0 ok, 1 "found something", 2 error), stdout checked.
//
// Output and errors go through here so that every tool keeps one contract:
// - text: results on stdout as they come, each error as one line on stderr;
// - --format json: one JSON document on stdout, printed only when the tool
//   succeeds; when it fails, stdout holds only {"error": "..."} (plus
//   "errors": [...] when there were several) and no partial result;
// - --format jsonl: result lines as they come, and on failure the error
//   object as the last line.
// In the JSON formats each error is also printed on stderr, as in text.
// A guest left paused (a resume that failed while unwinding) is always an
// error, whatever the tool returned.
#include <functional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace vmi {

constexpr int EXIT_OK = 0;
constexpr int EXIT_FOUND = 1;
constexpr int EXIT_ERROR = 2;

int run_tool(std::string_view name, std::string_view description, int argc, char** argv,
             const std::function<void(CLI::App&)>& define, const std::function<int()>& run);

// A tool's results for stdout (held back until the end for --format json).
void print_output(std::string_view text);
// An error that does not stop the tool (one of several symbols not found):
// "TOOL: MESSAGE" on stderr now, exit status 2 at the end.
void report_error(const std::string& message);
// The same, printed as a warning ("TOOL: warning: MESSAGE"): a walk that
// stopped early, after which the tool still prints what it found.
void report_problem(const std::string& message);

} // namespace vmi
