// read_c_string: page by page, never past the cap, never into a page it
// does not need.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "vmi/base/CStringReader.hpp"
#include "vmi/base/Error.hpp"

namespace {

// Bytes at [base, base + data.size()); reading anything else throws. Logs
// every read as (address, size).
struct Recorder {
    std::uint64_t base;
    std::string data;
    std::vector<std::pair<std::uint64_t, std::size_t>> reads;

    vmi::ByteReader reader()
    {
        return [this](std::uint64_t address, std::span<std::uint8_t> out) {
            reads.emplace_back(address, out.size());
            if (address < base || address - base + out.size() > data.size())
                vmi::fail("read outside the buffer at {:#x}", address);
            std::memcpy(out.data(), data.data() + (address - base), out.size());
        };
    }
};

} // namespace

TEST_CASE("c string: reads up to the page end, stops at the NUL")
{
    Recorder r{0x10000, std::string("hello\0world", 11) + std::string(0x2000, 'x'), {}};
    bool terminated = false;
    // Inside the 'x' run, no NUL: the cap ends it, across the page boundary.
    CHECK(vmi::read_c_string(r.reader(), 0x10ff0, 100, &terminated) == std::string(100, 'x'));
    CHECK_FALSE(terminated);
    r.reads.clear();
    CHECK(vmi::read_c_string(r.reader(), 0x10000, 100, &terminated) == "hello");
    CHECK(terminated);
    REQUIRE(r.reads.size() == 1);
    CHECK(r.reads[0] == std::make_pair(std::uint64_t{0x10000}, std::size_t{100}));
}

TEST_CASE("c string: chunks end at page boundaries and never exceed the cap")
{
    Recorder r{0x10000, std::string(0x3000, 'a'), {}};
    bool terminated = true;
    std::string s = vmi::read_c_string(r.reader(), 0x10ffa, 0x1010, &terminated);
    CHECK(s == std::string(0x1010, 'a'));
    CHECK_FALSE(terminated);
    REQUIRE(r.reads.size() == 3);
    CHECK(r.reads[0] == std::make_pair(std::uint64_t{0x10ffa}, std::size_t{6}));
    CHECK(r.reads[1] == std::make_pair(std::uint64_t{0x11000}, std::size_t{0x1000}));
    CHECK(r.reads[2] == std::make_pair(std::uint64_t{0x12000}, std::size_t{0xa}));
}

TEST_CASE("c string: a NUL in the first page means the next page is never read")
{
    Recorder r{0x10000, std::string(0xff0, 'a') + std::string("end\0", 4) + std::string(12, 'b'), {}};
    bool terminated = false;
    CHECK(vmi::read_c_string(r.reader(), 0x10ff0, 0x100000, &terminated) == "end");
    CHECK(terminated);
    REQUIRE(r.reads.size() == 1);
    CHECK(r.reads[0].first + r.reads[0].second == 0x11000);
}

TEST_CASE("c string: zero cap reads nothing; errors from the reader propagate")
{
    Recorder r{0x10000, "abc", {}};
    bool terminated = true;
    CHECK(vmi::read_c_string(r.reader(), 0x10000, 0, &terminated) == "");
    CHECK_FALSE(terminated);
    CHECK(r.reads.empty());
    CHECK_THROWS_WITH_AS(vmi::read_c_string(r.reader(), 0x20000, 5), "read outside the buffer at 0x20000", vmi::Error);
}
