// resolve_write_data: exactly one of --hex, --string [--nul], --u32, --u64,
// --from, parsed from a real command line.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <unistd.h>

#include "common/WriteData.hpp"
#include "vmi/base/Error.hpp"

namespace {

using Bytes = std::vector<std::uint8_t>;

// Parses `args` (after the program name) and resolves the data.
Bytes resolve(std::vector<std::string> args)
{
    CLI::App app;
    vmi::WriteDataOptions options;
    vmi::add_write_data_options(app, options);
    std::vector<const char*> argv{"vmi-write"};
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
    return vmi::resolve_write_data(options);
}

std::string error_of(std::vector<std::string> args)
{
    try {
        resolve(std::move(args));
    } catch (const vmi::Error& e) {
        return e.what();
    }
    FAIL("no error");
    return {};
}

} // namespace

TEST_CASE("write data: each source")
{
    CHECK(resolve({"--hex", "de ad"}) == Bytes{0xde, 0xad});
    CHECK(resolve({"--string", "hi"}) == Bytes{'h', 'i'});
    CHECK(resolve({"--string", "hi", "--nul"}) == Bytes{'h', 'i', 0});
    CHECK(resolve({"--string", "", "--nul"}) == Bytes{0});
    CHECK(resolve({"--u32", "0x11223344"}) == Bytes{0x44, 0x33, 0x22, 0x11});
    CHECK(resolve({"--u32", "4294967295"}) == Bytes{0xff, 0xff, 0xff, 0xff});
    CHECK(resolve({"--u64", "1"}) == Bytes{1, 0, 0, 0, 0, 0, 0, 0});
    CHECK(resolve({"--u64", "0x1122334455667788"}) == Bytes{0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11});
}

TEST_CASE("write data: --from a file")
{
    char path[] = "/tmp/vmi-write-data-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, "\x00\x01\xff", 3) == 3);
    close(fd);
    CHECK(resolve({"--from", path}) == Bytes{0x00, 0x01, 0xff});
    REQUIRE(truncate(path, 0) == 0);
    CHECK(error_of({"--from", path}) == fmt::format("nothing to write: --from file '{}' is empty", path));
    std::remove(path);
    CHECK(error_of({"--from", path}) == fmt::format("cannot open --from file '{}': No such file or directory", path));
    CHECK(error_of({"--from", "/"}) == "cannot read --from file '/': Is a directory");
}

TEST_CASE("write data: none, two, empty or malformed")
{
    CHECK(error_of({}).starts_with("no data given: use one of --hex"));
    CHECK(error_of({"--hex", "00", "--u32", "1"}).find("(--hex and --u32 were both given)") != std::string::npos);
    CHECK(error_of({"--hex", ""}) == "nothing to write: --hex is empty");
    CHECK(error_of({"--string", ""}) == "nothing to write: --string is empty");
    CHECK(error_of({"--u32", "0x100000000"}).starts_with("--u32: 0x100000000 does not fit in 32 bits"));
    CHECK(error_of({"--u32", "-1"}).starts_with("--u32: invalid number '-1'"));
    CHECK(error_of({"--u64", "18446744073709551616"}).find("does not fit in 64 bits") != std::string::npos);
    CHECK(error_of({"--hex", "abc"}).find("odd number of hex digits") != std::string::npos);
}

TEST_CASE("write data: --nul needs --string")
{
    CHECK_THROWS_AS(resolve({"--hex", "00", "--nul"}), CLI::RequiresError);
}
