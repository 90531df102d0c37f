#include <algorithm>
#include <bzlib.h>
#include <limits>

#include "decompress/StreamDecompressors.hpp"
#include "vmi/base/Error.hpp"

namespace vmi::decompress {
namespace {

const char* bzip2_error(int rc)
{
    switch (rc) {
    case BZ_DATA_ERROR: return "bad block data or checksum";
    case BZ_DATA_ERROR_MAGIC: return "bad magic";
    case BZ_MEM_ERROR: return "out of memory";
    default: return "";
    }
}

} // namespace

void bunzip2(std::span<const std::uint8_t> input, BoundedOutput& out)
{
    bz_stream bz{};
    if (BZ2_bzDecompressInit(&bz, 0, 0) != BZ_OK) fail("'{}': cannot start bzip2 decompression", out.origin());
    struct DecompressEnd {
        bz_stream* bz;
        ~DecompressEnd() { BZ2_bzDecompressEnd(bz); }
    } end{&bz};

    constexpr std::size_t PIECE = std::numeric_limits<unsigned>::max();
    std::size_t fed = 0;
    for (;;) {
        if (bz.avail_in == 0 && fed < input.size()) {
            std::size_t piece = std::min(input.size() - fed, PIECE);
            // libbz2 takes char* but never writes through next_in.
            bz.next_in = reinterpret_cast<char*>(const_cast<std::uint8_t*>(input.data() + fed));
            bz.avail_in = static_cast<unsigned>(piece);
            fed += piece;
        }
        std::span<std::uint8_t> room = out.room();
        unsigned offered = static_cast<unsigned>(std::min(room.size(), PIECE));
        bz.next_out = reinterpret_cast<char*>(room.data());
        bz.avail_out = offered;
        int rc = BZ2_bzDecompress(&bz);
        std::size_t produced = offered - bz.avail_out;
        out.commit(produced);
        if (rc == BZ_STREAM_END) return;
        if (rc != BZ_OK) out.fail_corrupt(bzip2_error(rc));
        // libbz2 reports BZ_OK forever on a truncated stream: no input left and
        // nothing produced into free room means it is waiting for bytes that never come.
        if (bz.avail_in == 0 && fed == input.size() && produced == 0) out.fail_truncated();
    }
}

} // namespace vmi::decompress
