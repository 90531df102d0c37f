#include <algorithm>
#include <limits>
#include <zlib.h>

#include "decompress/StreamDecompressors.hpp"
#include "vmi/base/Error.hpp"

namespace vmi::decompress {

void gunzip(std::span<const std::uint8_t> input, BoundedOutput& out)
{
    z_stream z{};
    // 16 + MAX_WBITS: expect a gzip header and trailer rather than zlib's.
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) fail("'{}': cannot start gzip decompression", out.origin());
    struct InflateEnd {
        z_stream* z;
        ~InflateEnd() { inflateEnd(z); }
    } end{&z};

    // zlib counts in uInt, so inputs and outputs over 4 GiB go in pieces.
    constexpr std::size_t PIECE = std::numeric_limits<uInt>::max();
    std::size_t fed = 0;
    for (;;) {
        if (z.avail_in == 0 && fed < input.size()) {
            std::size_t piece = std::min(input.size() - fed, PIECE);
            z.next_in = const_cast<Bytef*>(input.data() + fed);
            z.avail_in = static_cast<uInt>(piece);
            fed += piece;
        }
        std::span<std::uint8_t> room = out.room();
        uInt offered = static_cast<uInt>(std::min(room.size(), PIECE));
        z.next_out = room.data();
        z.avail_out = offered;
        int rc = inflate(&z, Z_NO_FLUSH);
        out.commit(offered - z.avail_out);
        if (rc == Z_STREAM_END) return;
        if (rc == Z_OK) continue;
        // Z_BUF_ERROR: no progress was possible, and room was offered, so the input ran out.
        if (rc == Z_BUF_ERROR && z.avail_in == 0 && fed == input.size()) out.fail_truncated();
        out.fail_corrupt(z.msg ? z.msg : zError(rc));
    }
}

} // namespace vmi::decompress
