// lz4's legacy frame, the one the kernel's build uses (lz4 -l): a magic
// number, then blocks of [u32 LE compressed size][LZ4 block] that each
// decompress to at most 8 MiB. The magic may appear again between blocks
// (concatenated frames). There is no end marker and no checksum.
#include <cstring>
#include <lz4.h>

#include "decompress/StreamDecompressors.hpp"
#include "vmi/base/Error.hpp"

namespace vmi::decompress {
namespace {

constexpr std::uint32_t LEGACY_MAGIC = 0x184C2102;
constexpr std::size_t LEGACY_BLOCK_SIZE = std::size_t{8} << 20;

std::uint32_t le32(const std::uint8_t* p)
{
    return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

} // namespace

void unlz4(std::span<const std::uint8_t> input, BoundedOutput& out)
{
    if (input.size() < 4 || le32(input.data()) != LEGACY_MAGIC) out.fail_corrupt("no legacy frame magic");
    const auto max_block = static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(LEGACY_BLOCK_SIZE)));
    std::size_t pos = 4;
    bool any_block = false;
    while (input.size() - pos >= 4) {
        std::uint32_t block = le32(input.data() + pos);
        if (block == LEGACY_MAGIC) {
            pos += 4;
            continue;
        }
        // The kernel appends the uncompressed size after the last block: four
        // bytes that end the input, too few for a block header and its data.
        if (any_block && input.size() - pos == 4) break;
        if (block == 0 || block > max_block) out.fail_corrupt("bad block size");
        pos += 4;
        if (block > input.size() - pos) out.fail_truncated();

        std::span<std::uint8_t> room = out.room(LEGACY_BLOCK_SIZE);
        bool capped = room.size() < LEGACY_BLOCK_SIZE;
        int capacity = static_cast<int>(std::min(room.size(), LEGACY_BLOCK_SIZE));
        int produced = LZ4_decompress_safe(reinterpret_cast<const char*>(input.data() + pos),
                                           reinterpret_cast<char*>(room.data()), static_cast<int>(block), capacity);
        if (produced < 0) {
            // LZ4 cannot tell "no room" from "bad data"; near the cap, assume the first.
            if (capped) out.fail_too_large();
            out.fail_corrupt("bad block data");
        }
        out.commit(static_cast<std::size_t>(produced));
        pos += block;
        any_block = true;
    }
    if (!any_block) out.fail_truncated();
}

} // namespace vmi::decompress
