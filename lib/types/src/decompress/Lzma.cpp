// xz and the legacy .lzma format: both are liblzma's.
#include <lzma.h>

#include "decompress/StreamDecompressors.hpp"
#include "vmi/base/Error.hpp"

namespace vmi::decompress {
namespace {

// Dictionaries of kernel images are 32-64 MiB (xz_wrap.sh, lzma -9); a header
// asking for more is refused rather than allocated.
constexpr std::uint64_t DECODER_MEMORY_LIMIT = std::uint64_t{256} << 20;

const char* lzma_error(lzma_ret rc)
{
    switch (rc) {
    case LZMA_FORMAT_ERROR: return "bad header";
    case LZMA_OPTIONS_ERROR: return "unsupported options";
    case LZMA_DATA_ERROR: return "bad compressed data";
    case LZMA_MEM_ERROR: return "out of memory";
    case LZMA_MEMLIMIT_ERROR: return "dictionary larger than 256 MiB";
    case LZMA_UNSUPPORTED_CHECK: return "unsupported integrity check";
    default: return "";
    }
}

void run(lzma_stream& stream, std::span<const std::uint8_t> input, BoundedOutput& out)
{
    struct LzmaEnd {
        lzma_stream* s;
        ~LzmaEnd() { lzma_end(s); }
    } end{&stream};
    stream.next_in = input.data();
    stream.avail_in = input.size();
    for (;;) {
        std::span<std::uint8_t> room = out.room();
        stream.next_out = room.data();
        stream.avail_out = room.size();
        // LZMA_FINISH: all input is there, so running out of it is an error
        // (LZMA_BUF_ERROR) instead of a request for more.
        lzma_ret rc = lzma_code(&stream, LZMA_FINISH);
        out.commit(room.size() - stream.avail_out);
        if (rc == LZMA_STREAM_END) return;
        if (rc == LZMA_OK) continue;
        if (rc == LZMA_BUF_ERROR) out.fail_truncated();
        out.fail_corrupt(lzma_error(rc));
    }
}

} // namespace

void unxz(std::span<const std::uint8_t> input, BoundedOutput& out)
{
    lzma_stream stream = LZMA_STREAM_INIT;
    // No LZMA_CONCATENATED: stop after the first stream, whatever follows it.
    if (lzma_stream_decoder(&stream, DECODER_MEMORY_LIMIT, 0) != LZMA_OK)
        fail("'{}': cannot start xz decompression", out.origin());
    run(stream, input, out);
}

void unlzma(std::span<const std::uint8_t> input, BoundedOutput& out)
{
    lzma_stream stream = LZMA_STREAM_INIT;
    if (lzma_alone_decoder(&stream, DECODER_MEMORY_LIMIT) != LZMA_OK)
        fail("'{}': cannot start lzma decompression", out.origin());
    run(stream, input, out);
}

} // namespace vmi::decompress
