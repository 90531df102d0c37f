#include "common/ToolMain.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

#include "common/OutputFormat.hpp"
#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/memory/ScopedPause.hpp"

namespace vmi {
namespace {

struct ToolState {
    OutputFormat format = OutputFormat::Text;
    std::string held; // --format json: the document, until the tool succeeds
    std::vector<std::string> errors;
};

ToolState& state()
{
    static ToolState tool;
    return tool;
}

void write_stdout(std::string_view text)
{
    if (!text.empty()) std::fwrite(text.data(), 1, text.size(), stdout);
}

// One line for a broken or full stdout, instead of a silent death by SIGPIPE.
void finish_stdout()
{
    if (std::fflush(stdout) != 0 || std::ferror(stdout))
        throw Error(fmt::format("cannot write output: {}", std::strerror(errno)));
}

// --format as given on the command line, for errors that come before or
// while it is parsed; text when absent or not a format.
OutputFormat format_in(int argc, char** argv)
{
    std::string_view value;
    for (int i = 1; i < argc; ++i) {
        std::string_view word = argv[i];
        if (word == "--format" && i + 1 < argc) value = argv[i + 1];
        else if (word.starts_with("--format=")) value = word.substr(9);
    }
    if (value == "json") return OutputFormat::Json;
    if (value == "jsonl") return OutputFormat::JsonLines;
    return OutputFormat::Text;
}

void error_line(std::string_view name, const std::string& message)
{
    std::fflush(stdout);
    fmt::print(stderr, "{}: {}\n", name, message);
}

// The end of every run: the held JSON document or the error object, and
// the exit status.
int finish(std::string_view name, int status)
{
    ToolState& tool = state();
    if (std::optional<std::string> paused = ScopedPause::take_unreported_failure()) {
        error_line(name, *paused);
        tool.errors.insert(tool.errors.begin(), *paused);
    }
    if (!tool.errors.empty()) status = EXIT_ERROR;
    if (tool.format != OutputFormat::Text) {
        if (status == EXIT_ERROR) {
            nlohmann::json error{{"error", tool.errors.empty() ? std::string("failed") : tool.errors.front()}};
            if (tool.errors.size() > 1) error["errors"] = tool.errors;
            write_stdout(to_json_text(error) + "\n");
        } else {
            write_stdout(tool.held);
        }
        tool.held.clear();
    }
    try {
        finish_stdout();
    } catch (const std::exception& e) {
        error_line(name, e.what());
        return EXIT_ERROR;
    }
    return status;
}

} // namespace

void print_output(std::string_view text)
{
    if (state().format == OutputFormat::Json) state().held += text;
    else write_stdout(text);
}

void report_error(const std::string& message)
{
    error_line(diag::program(), message);
    state().errors.push_back(message);
}

void report_problem(const std::string& message)
{
    diag::warn("{}", message);
    state().errors.push_back(message);
}

int run_tool(std::string_view name, std::string_view description, int argc, char** argv,
             const std::function<void(CLI::App&)>& define, const std::function<int()>& run)
{
    diag::set_program(name);
    std::signal(SIGPIPE, SIG_IGN);
    state() = ToolState{};
    state().format = format_in(argc, argv);
    CLI::App app{std::string(description), std::string(name)};
    app.set_version_flag("--version", std::string(name) + " (vmitools) " VMI_VERSION);
    app.footer("Exit status: 0 success, 1 found something (check modes), 2 error.");
    try {
        define(app);
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::string message = fmt::format("{} (see --help)", e.what());
        error_line(name, message);
        state().errors.push_back(message);
        return finish(name, EXIT_ERROR);
    } catch (const std::exception& e) {
        report_error(e.what());
        return finish(name, EXIT_ERROR);
    }
    int status = EXIT_ERROR;
    try {
        status = run();
    } catch (const std::exception& e) {
        report_error(e.what());
    }
    return finish(name, status);
}

} // namespace vmi
