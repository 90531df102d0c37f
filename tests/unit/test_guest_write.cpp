// vmi-write's careful write (GuestWrite): pieces written in order; when one
// fails, what was written is put back, and the error says exactly which
// bytes changed.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "FakeMemory.hpp"
#include "common/GuestWrite.hpp"
#include "vmi/base/Error.hpp"

using namespace vmi_test;

namespace {

// Guest RAM whose writes fail as a backend's can midway: write number
// `fail_at` (counting from 1) writes only its first `partial` bytes and then
// throws, and with `restore_fails` every write after that throws too.
class FailingMemory : public FakeMemory {
public:
    using FakeMemory::FakeMemory;
    void write(std::uint64_t address, std::span<const std::uint8_t> data) override
    {
        ++count;
        if (count > fail_at && fail_at && restore_fails) vmi::fail("QEMU pid 42 is gone");
        if (count == fail_at) {
            FakeMemory::write(address, data.first(std::min(partial, data.size())));
            vmi::fail("cannot write guest RAM at {:#x}: Bad address", address + partial);
        }
        FakeMemory::write(address, data);
    }
    std::size_t count = 0;
    std::size_t fail_at = 0;
    std::size_t partial = 0;
    bool restore_fails = false;
};

// Three pieces of a virtual range that crosses two page boundaries, on
// physical pages out of order: 0x10ff0-0x10fff, 0x30000-0x30fff, 0x20000-0x2000f.
std::vector<vmi::WritePiece> three_pages()
{
    return {{0, 0x7000ff0, 0x10ff0, 0x10, std::nullopt},
            {0x10, 0x7001000, 0x30000, 0x1000, std::nullopt},
            {0x1010, 0x7002000, 0x20000, 0x10, std::nullopt}};
}

std::vector<std::uint8_t> filled(std::size_t size, std::uint8_t value)
{
    return std::vector<std::uint8_t>(size, value);
}

} // namespace

TEST_CASE("careful write: every piece written at its physical address")
{
    FailingMemory mem({{0, 0x100000}});
    auto pieces = three_pages();
    auto old_bytes = vmi::read_pieces(mem, pieces);
    auto data = filled(0x1020, 0xab);
    vmi::write_pieces(mem, pieces, old_bytes, data);
    CHECK(vmi::read_pieces(mem, pieces) == data);
    CHECK(mem.get_bytes(0x10fe0, 0x10) == std::string(0x10, '\0'));
    CHECK(mem.get_bytes(0x20010, 0x10) == std::string(0x10, '\0'));
}

TEST_CASE("careful write: a failure partway puts back what was written and says nothing changed")
{
    FailingMemory mem({{0, 0x100000}});
    mem.put_bytes(0x30000, std::string(0x1000, 'o'));
    auto pieces = three_pages();
    auto old_bytes = vmi::read_pieces(mem, pieces);
    mem.fail_at = 2; // the second page, half written
    mem.partial = 0x800;
    CHECK_THROWS_WITH_AS(vmi::write_pieces(mem, pieces, old_bytes, filled(0x1020, 0xab)),
                         "write failed at 0x7001000 (physical 0x30000): cannot write guest RAM at 0x30800: Bad "
                         "address; the bytes already written were put back: nothing changed",
                         vmi::Error);
    CHECK(vmi::read_pieces(mem, pieces) == old_bytes);
    CHECK(mem.count == 4); // two pieces, then two put back; the third never written
}

TEST_CASE("careful write: when putting back fails, the error names exactly the bytes that changed")
{
    FailingMemory mem({{0, 0x100000}});
    auto pieces = three_pages();
    auto old_bytes = vmi::read_pieces(mem, pieces);
    mem.fail_at = 2;
    mem.partial = 0x800;
    mem.restore_fails = true;
    // Piece 1 (16 bytes) and the first 0x800 bytes of piece 2 hold the new data.
    CHECK_THROWS_WITH_AS(vmi::write_pieces(mem, pieces, old_bytes, filled(0x1020, 0xab)),
                         "write failed at 0x7001000 (physical 0x30000): cannot write guest RAM at 0x30800: Bad "
                         "address; 2064 bytes now differ from before (0x7000ff0-0x7000fff, 0x7001000-0x70017ff): "
                         "putting back the old bytes failed: QEMU pid 42 is gone",
                         vmi::Error);
    auto now = vmi::read_pieces(mem, pieces);
    CHECK(std::count(now.begin(), now.end(), 0xab) == 0x810);
}

TEST_CASE("careful write: new bytes equal to the old ones do not count as changed")
{
    FailingMemory mem({{0, 0x100000}});
    mem.put_bytes(0x10ff0, "0123456789abcdef");
    auto pieces = three_pages();
    auto old_bytes = vmi::read_pieces(mem, pieces);
    auto data = old_bytes;
    data[3] = 'X';
    data[0x10] = 'Y';
    mem.fail_at = 3;
    mem.restore_fails = true;
    CHECK_THROWS_WITH_AS(vmi::write_pieces(mem, pieces, old_bytes, data),
                         "write failed at 0x7002000 (physical 0x20000): cannot write guest RAM at 0x20000: Bad "
                         "address; 2 bytes now differ from before (0x7000ff3, 0x7001000): putting back the old bytes "
                         "failed: QEMU pid 42 is gone",
                         vmi::Error);
}

TEST_CASE("careful write: a range that cannot be read back is said to be unknown")
{
    class Vanishing : public FailingMemory {
    public:
        using FailingMemory::FailingMemory;
        void read(std::uint64_t address, std::span<std::uint8_t> out) override
        {
            if (count >= fail_at && fail_at) vmi::fail("QEMU pid 42 is gone");
            FailingMemory::read(address, out);
        }
    };
    Vanishing mem({{0, 0x100000}});
    auto pieces = three_pages();
    auto old_bytes = vmi::read_pieces(mem, pieces);
    mem.fail_at = 2;
    mem.restore_fails = true;
    CHECK_THROWS_WITH_AS(vmi::write_pieces(mem, pieces, old_bytes, filled(0x1020, 0xab)),
                         "write failed at 0x7001000 (physical 0x30000): cannot write guest RAM at 0x30000: Bad "
                         "address; cannot tell which bytes from 0x7000ff0 to 0x7001fff changed: reading them back "
                         "failed: QEMU pid 42 is gone",
                         vmi::Error);
}

TEST_CASE("careful write: page rights as the output shows them")
{
    CHECK(vmi::PageRights{true, false, true}.describe() == "kernel read-write no-exec");
    CHECK(vmi::PageRights{false, false, false}.describe() == "kernel read-only");
    CHECK(vmi::PageRights{true, true, true}.describe() == "user read-write no-exec, may be shared");
    CHECK(vmi::PageRights{false, true, false}.may_be_shared());
    CHECK_FALSE(vmi::PageRights{true, false, false}.may_be_shared());
}
