// run_tool's output contract: text as it comes; --format json printed only
// when the tool succeeds, else only {"error": ...}; jsonl rows then the
// error object last; errors on stderr in every format; a guest left paused
// is an error whatever the tool returned.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/ToolMain.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/memory/ScopedPause.hpp"

namespace {

struct Run {
    int status = 0;
    std::string out;
    std::string err;
};

std::string read_all(std::FILE* file)
{
    std::fflush(file);
    std::rewind(file);
    std::string text;
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
    std::fclose(file);
    return text;
}

// run_tool with `words` as the command line and `run` as the tool, its
// stdout and stderr captured.
Run run_captured(std::vector<std::string> words, const std::function<int()>& run)
{
    std::vector<char*> argv;
    words.insert(words.begin(), "vmi-test");
    for (std::string& word : words) argv.push_back(word.data());
    std::string format;
    std::fflush(stdout);
    std::fflush(stderr);
    std::FILE* out = std::tmpfile();
    std::FILE* err = std::tmpfile();
    int saved_out = ::dup(1), saved_err = ::dup(2);
    ::dup2(::fileno(out), 1);
    ::dup2(::fileno(err), 2);
    Run result;
    result.status = vmi::run_tool(
        "vmi-test", "test", static_cast<int>(argv.size()), argv.data(),
        [&](CLI::App& app) { app.add_option("--format", format); }, run);
    std::fflush(stdout);
    std::fflush(stderr);
    ::dup2(saved_out, 1);
    ::dup2(saved_err, 2);
    ::close(saved_out);
    ::close(saved_err);
    result.out = read_all(out);
    result.err = read_all(err);
    return result;
}

// A tool that prints two results, reports an error about a third, and
// (with `throws`) then fails outright.
std::function<int()> partly_failing(const std::string& format, bool throws)
{
    return [format, throws] {
        bool json = format != "text";
        vmi::print_output(json ? "{\"name\":\"a\"}\n" : "a\n");
        vmi::print_output(json ? "{\"name\":\"b\"}\n" : "b\n");
        vmi::report_error("symbol 'c' not found");
        if (throws) vmi::fail("the guest went away");
        return vmi::EXIT_OK;
    };
}

} // namespace

TEST_CASE("tool output: text prints as it comes; errors go to stderr, exit 2")
{
    Run run = run_captured({"--format", "text"}, partly_failing("text", false));
    CHECK(run.status == vmi::EXIT_ERROR);
    CHECK(run.out == "a\nb\n");
    CHECK(run.err == "vmi-test: symbol 'c' not found\n");
}

TEST_CASE("tool output: json prints no partial document, only the error object")
{
    Run run = run_captured({"--format", "json"}, partly_failing("json", false));
    CHECK(run.status == vmi::EXIT_ERROR);
    CHECK(run.out == "{\"error\":\"symbol 'c' not found\"}\n");
    CHECK(run.err == "vmi-test: symbol 'c' not found\n");

    run = run_captured({"--format=json"}, partly_failing("json", true));
    CHECK(run.status == vmi::EXIT_ERROR);
    nlohmann::json error = nlohmann::json::parse(run.out);
    CHECK(error["error"] == "symbol 'c' not found");
    CHECK(error["errors"] == nlohmann::json{"symbol 'c' not found", "the guest went away"});
    CHECK(run.err == "vmi-test: symbol 'c' not found\nvmi-test: the guest went away\n");
}

TEST_CASE("tool output: json that succeeds is printed whole")
{
    Run run = run_captured({"--format", "json"}, [] {
        vmi::print_output("[{\"name\":");
        vmi::print_output("\"a\"}]\n");
        return vmi::EXIT_OK;
    });
    CHECK(run.status == vmi::EXIT_OK);
    CHECK(run.out == "[{\"name\":\"a\"}]\n");
    CHECK(run.err.empty());
}

TEST_CASE("tool output: jsonl prints its lines, then the error object last")
{
    Run run = run_captured({"--format", "jsonl"}, partly_failing("jsonl", true));
    CHECK(run.status == vmi::EXIT_ERROR);
    CHECK(run.out == "{\"name\":\"a\"}\n{\"name\":\"b\"}\n"
                     "{\"error\":\"symbol 'c' not found\",\"errors\":[\"symbol 'c' not found\",\"the guest went "
                     "away\"]}\n");
}

TEST_CASE("tool output: a bad command line in json mode is an error object too")
{
    Run run = run_captured({"--format", "json", "--no-such-flag"}, [] { return vmi::EXIT_OK; });
    CHECK(run.status == vmi::EXIT_ERROR);
    nlohmann::json error = nlohmann::json::parse(run.out);
    CHECK(error["error"].get<std::string>().find("--no-such-flag") != std::string::npos);
}

TEST_CASE("tool output: a guest left paused makes any run an error, reported first")
{
    struct StuckGuest : vmi::MemorySource {
        void read(std::uint64_t, std::span<std::uint8_t>) override {}
        void write(std::uint64_t, std::span<const std::uint8_t>) override {}
        const std::vector<vmi::PhysicalRange>& ranges() const override { return none; }
        std::optional<vmi::CpuRegisters> registers() const override { return std::nullopt; }
        bool writable() const override { return false; }
        std::string describe() const override { return "stuck"; }
        bool pause() override { return true; }
        void resume() override { vmi::fail("QEMU did not answer"); }
        std::string resume_command() const override { return "virsh -c qemu:///system resume web01"; }
        std::vector<vmi::PhysicalRange> none;
    };
    for (const char* format : {"text", "json"}) {
        CAPTURE(format);
        Run run = run_captured({"--format", format}, [&] {
            StuckGuest guest;
            {
                vmi::ScopedPause pause(guest, true, {std::chrono::milliseconds(0), std::chrono::milliseconds(0)});
                vmi::print_output(std::string(format) == "json" ? "[]\n" : "done\n");
            } // resumed (and failing) in the destructor: nothing thrown
            return vmi::EXIT_OK;
        });
        std::string line = "could not resume the guest: QEMU did not answer; it may still be paused: resume it "
                           "with virsh -c qemu:///system resume web01";
        CHECK(run.status == vmi::EXIT_ERROR);
        CHECK(run.err == "vmi-test: " + line + "\n");
        if (std::string(format) == "json") CHECK(nlohmann::json::parse(run.out)["error"] == line);
        else CHECK(run.out == "done\n");
    }
}

TEST_CASE("tool output: ScopedPause::resume() throws a failed resume, with the command that resumes")
{
    struct StuckGuest : vmi::MemorySource {
        void read(std::uint64_t, std::span<std::uint8_t>) override {}
        void write(std::uint64_t, std::span<const std::uint8_t>) override {}
        const std::vector<vmi::PhysicalRange>& ranges() const override { return none; }
        std::optional<vmi::CpuRegisters> registers() const override { return std::nullopt; }
        bool writable() const override { return false; }
        std::string describe() const override { return "stuck"; }
        bool pause() override { return true; }
        void resume() override { vmi::fail("no answer"); }
        std::string resume_command() const override { return "{\"execute\":\"cont\"} on QMP socket /x"; }
        std::vector<vmi::PhysicalRange> none;
    };
    StuckGuest guest;
    vmi::ScopedPause pause(guest, true, {std::chrono::milliseconds(0), std::chrono::milliseconds(0)});
    CHECK_THROWS_WITH_AS(pause.resume(),
                         "could not resume the guest: no answer; it may still be paused: resume it with "
                         "{\"execute\":\"cont\"} on QMP socket /x",
                         vmi::Error);
    CHECK_FALSE(vmi::ScopedPause::take_unreported_failure());
}
