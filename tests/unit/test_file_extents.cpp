// Where a file holds data (FileExtents) and MappedFile's pread path: what the
// scans of a dump use to skip holes and to leave nothing resident.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <vector>

#include "vmi/base/Error.hpp"
#include "vmi/base/FileExtents.hpp"
#include "vmi/base/MappedFile.hpp"
#include "vmi/memory/DumpFile.hpp"

namespace {

constexpr std::uint64_t MIB = 1 << 20;

// A temporary file: 64 KiB of data at 0, a hole, 64 KiB of data at 3 MiB, a
// hole to its end at 8 MiB.
struct SparseFile {
    std::string path;
    SparseFile()
    {
        char name[] = "/tmp/vmi-extents-test.XXXXXX";
        int fd = ::mkstemp(name);
        REQUIRE(fd >= 0);
        path = name;
        std::vector<char> data(64 << 10, 'x');
        REQUIRE(::pwrite(fd, data.data(), data.size(), 0) == static_cast<ssize_t>(data.size()));
        data.assign(data.size(), 'y');
        REQUIRE(::pwrite(fd, data.data(), data.size(), 3 * MIB) == static_cast<ssize_t>(data.size()));
        REQUIRE(::ftruncate(fd, 8 * MIB) == 0);
        ::close(fd);
    }
    ~SparseFile() { ::unlink(path.c_str()); }
};

} // namespace

TEST_CASE("file extents: the data of a sparse file, holes left out, clipped to the range asked")
{
    SparseFile file;
    int fd = ::open(file.path.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    std::vector<vmi::FileExtent> all = vmi::file_data_extents(fd, 0, 8 * MIB);
    // A file system without hole support reports the whole file as data.
    if (all.size() == 1 && all[0].size == 8 * MIB) {
        MESSAGE("no SEEK_HOLE support under /tmp: only the fallback is checked");
    } else {
        REQUIRE(all.size() == 2);
        CHECK(all[0].offset == 0);
        CHECK(all[0].size >= (64 << 10));
        CHECK(all[0].size < 3 * MIB);
        CHECK(all[1].offset <= 3 * MIB);
        CHECK(all[1].offset + all[1].size >= 3 * MIB + (64 << 10));
        CHECK(all[1].offset + all[1].size < 8 * MIB);
        std::vector<vmi::FileExtent> middle = vmi::file_data_extents(fd, 1 * MIB, 4 * MIB);
        REQUIRE(middle.size() == 1);
        CHECK(middle[0].offset == all[1].offset);
        CHECK(vmi::file_data_extents(fd, 5 * MIB, 3 * MIB).empty());
        // Past the cap, the rest is one extent.
        std::vector<vmi::FileExtent> capped = vmi::file_data_extents(fd, 0, 8 * MIB, 2);
        REQUIRE(capped.size() == 2);
        CHECK(capped[1].offset + capped[1].size == 8 * MIB);
    }
    ::close(fd);
    // Not a file descriptor at all: the whole range.
    std::vector<vmi::FileExtent> bad = vmi::file_data_extents(-1, 0, 4096);
    REQUIRE(bad.size() == 1);
    CHECK(bad[0].size == 4096);
}

TEST_CASE("mapped file: read_at reads what the mapping holds, and refuses a range past the end")
{
    SparseFile file;
    vmi::MappedFile mapped(file.path, false);
    std::vector<std::uint8_t> out(128 << 10);
    mapped.read_at(3 * MIB - (64 << 10), out);
    CHECK(out[0] == 0);
    CHECK(out[(64 << 10) - 1] == 0);
    CHECK(out[64 << 10] == 'y');
    CHECK(out.back() == 'y');
    CHECK(std::equal(out.begin(), out.end(), mapped.bytes().begin() + 3 * MIB - (64 << 10)));
    CHECK_THROWS_AS(mapped.read_at(8 * MIB - 4096, out), vmi::Error);
}

TEST_CASE("a sparse raw image: its data ranges leave the holes out; reads of a hole give zeros")
{
    SparseFile file;
    auto memory = vmi::open_image_file(file.path, false);
    std::vector<vmi::PhysicalRange> data = memory->data_ranges();
    REQUIRE(!data.empty());
    CHECK(vmi::overlaps_any(data, 0, 4096));
    CHECK(vmi::overlaps_any(data, 3 * MIB, 4096));
    if (data.size() > 1) {
        CHECK_FALSE(vmi::overlaps_any(data, 5 * MIB, MIB));
        CHECK(data.back().end() < 8 * MIB);
    }
    std::vector<std::uint8_t> out(MIB, 0xff); // big enough for the pread path
    memory->read(5 * MIB, out);
    CHECK(std::all_of(out.begin(), out.end(), [](std::uint8_t b) { return b == 0; }));
    memory->read(3 * MIB, out);
    CHECK(out[0] == 'y');
}
