// lzop's file format, the one the kernel's build uses (lzop -9): a header
// whose fields depend on the lzop version, then blocks of
// [u32 BE uncompressed size][u32 BE compressed size][checksums][data] ending
// with an uncompressed size of 0. liblzo2 only knows the blocks; the framing
// is read here (as lzop.c and the kernel's lib/decompress_unlzo.c do).
#include <algorithm>
#include <lzo/lzo1x.h>

#include "decompress/StreamDecompressors.hpp"
#include "vmi/base/Error.hpp"

namespace vmi::decompress {
namespace {

constexpr std::uint8_t LZOP_MAGIC[9] = {0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a};

// Header flags (lzop's conf.h).
constexpr std::uint32_t F_ADLER32_D = 0x1;
constexpr std::uint32_t F_ADLER32_C = 0x2;
constexpr std::uint32_t F_H_EXTRA_FIELD = 0x40;
constexpr std::uint32_t F_CRC32_D = 0x100;
constexpr std::uint32_t F_CRC32_C = 0x200;
constexpr std::uint32_t F_H_FILTER = 0x800;
constexpr std::uint32_t F_H_CRC32 = 0x1000;

// Methods 1-3 are LZO1X at different levels; all decompress alike.
constexpr unsigned M_LZO1X_1 = 1;
constexpr unsigned M_LZO1X_999 = 3;

// lzop writes 256 KiB blocks and refuses anything over 64 MiB.
constexpr std::uint32_t MAX_BLOCK_SIZE = 64 * 1024 * 1024;

// Version from which the header has the "version needed", level and mtime_high fields.
constexpr unsigned VERSION_WITH_LONG_HEADER = 0x0940;

// Reads big-endian fields; any read past the end is the truncation error.
class Reader {
public:
    Reader(std::span<const std::uint8_t> input, const BoundedOutput& out) : input_(input), out_(out) {}

    std::span<const std::uint8_t> bytes(std::size_t count)
    {
        if (count > input_.size() - pos_) out_.fail_truncated();
        std::span<const std::uint8_t> taken = input_.subspan(pos_, count);
        pos_ += count;
        return taken;
    }
    std::uint8_t u8() { return bytes(1)[0]; }
    std::uint16_t u16()
    {
        auto b = bytes(2);
        return static_cast<std::uint16_t>(b[0] << 8 | b[1]);
    }
    std::uint32_t u32()
    {
        auto b = bytes(4);
        return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
    }
    std::size_t position() const { return pos_; }
    std::span<const std::uint8_t> since(std::size_t start) const { return input_.subspan(start, pos_ - start); }

private:
    std::span<const std::uint8_t> input_;
    const BoundedOutput& out_;
    std::size_t pos_ = 0;
};

std::uint32_t adler32(std::span<const std::uint8_t> data) { return lzo_adler32(1, data.data(), data.size()); }
std::uint32_t crc32(std::span<const std::uint8_t> data) { return lzo_crc32(0, data.data(), data.size()); }

// Returns the header flags, which say which checksums each block carries.
std::uint32_t read_header(Reader& in, const BoundedOutput& out)
{
    auto magic = in.bytes(sizeof LZOP_MAGIC);
    if (!std::equal(magic.begin(), magic.end(), LZOP_MAGIC)) out.fail_corrupt("no lzop magic");
    std::size_t checked_from = in.position();
    unsigned version = in.u16();
    in.u16();                                          // library version
    if (version >= VERSION_WITH_LONG_HEADER) in.u16(); // version needed to extract
    unsigned method = in.u8();
    if (method < M_LZO1X_1 || method > M_LZO1X_999) out.fail_corrupt(fmt::format("unknown method {}", method));
    if (version >= VERSION_WITH_LONG_HEADER) in.u8(); // level
    std::uint32_t flags = in.u32();
    if (flags & F_H_FILTER) in.u32();
    in.u32();                                          // mode
    in.u32();                                          // mtime
    if (version >= VERSION_WITH_LONG_HEADER) in.u32(); // mtime, high half
    in.bytes(in.u8());                                 // file name
    std::span<const std::uint8_t> checked = in.since(checked_from);
    std::uint32_t expected = (flags & F_H_CRC32) ? crc32(checked) : adler32(checked);
    if (in.u32() != expected) out.fail_corrupt("header checksum mismatch");
    if (flags & F_H_EXTRA_FIELD) {
        in.bytes(in.u32());
        in.u32(); // its checksum
    }
    return flags;
}

void check(std::uint32_t flags, std::uint32_t adler_flag, std::uint32_t crc_flag, std::uint32_t adler,
           std::uint32_t crc, std::span<const std::uint8_t> data, const BoundedOutput& out)
{
    if ((flags & adler_flag) && adler32(data) != adler) out.fail_corrupt("block checksum mismatch");
    if ((flags & crc_flag) && crc32(data) != crc) out.fail_corrupt("block checksum mismatch");
}

} // namespace

void unlzo(std::span<const std::uint8_t> input, BoundedOutput& out)
{
    static const int initialised = lzo_init();
    if (initialised != LZO_E_OK) fail("'{}': cannot start lzo decompression", out.origin());

    Reader in(input, out);
    std::uint32_t flags = read_header(in, out);
    for (;;) {
        std::uint32_t plain_size = in.u32();
        if (plain_size == 0) return;
        if (plain_size > MAX_BLOCK_SIZE) out.fail_corrupt("block larger than 64 MiB");
        std::uint32_t packed_size = in.u32();
        if (packed_size == 0 || packed_size > plain_size) out.fail_corrupt("bad block size");
        std::uint32_t plain_adler = (flags & F_ADLER32_D) ? in.u32() : 0;
        std::uint32_t plain_crc = (flags & F_CRC32_D) ? in.u32() : 0;
        bool stored = packed_size == plain_size;
        // A stored block's data is its own compressed form: one checksum serves both.
        std::uint32_t packed_adler = (flags & F_ADLER32_C) && !stored ? in.u32() : plain_adler;
        std::uint32_t packed_crc = (flags & F_CRC32_C) && !stored ? in.u32() : plain_crc;
        std::span<const std::uint8_t> packed = in.bytes(packed_size);
        check(flags, F_ADLER32_C, F_CRC32_C, packed_adler, packed_crc, packed, out);

        if (plain_size > out.max_size() - out.size()) out.fail_too_large();
        std::span<std::uint8_t> room = out.room(plain_size);
        if (stored) {
            std::copy(packed.begin(), packed.end(), room.begin());
        } else {
            lzo_uint produced = plain_size;
            int rc = lzo1x_decompress_safe(packed.data(), packed.size(), room.data(), &produced, nullptr);
            if (rc != LZO_E_OK || produced != plain_size) out.fail_corrupt("bad block data");
        }
        std::span<const std::uint8_t> plain = room.first(plain_size);
        check(flags, F_ADLER32_D, F_CRC32_D, plain_adler, plain_crc, plain, out);
        out.commit(plain_size);
    }
}

} // namespace vmi::decompress
