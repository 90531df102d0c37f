#include <memory>
#include <zstd.h>

#include "decompress/StreamDecompressors.hpp"
#include "vmi/base/Error.hpp"

namespace vmi::decompress {
namespace {

// Kernel images use `zstd -22 --ultra` (a 128 MiB window at most); a frame
// asking for a larger window is refused rather than allocated.
constexpr int MAX_WINDOW_LOG = 28;

struct DCtxFree {
    void operator()(ZSTD_DCtx* ctx) const { ZSTD_freeDCtx(ctx); }
};

} // namespace

void unzstd(std::span<const std::uint8_t> input, BoundedOutput& out)
{
    std::unique_ptr<ZSTD_DCtx, DCtxFree> ctx(ZSTD_createDCtx());
    if (!ctx || ZSTD_isError(ZSTD_DCtx_setParameter(ctx.get(), ZSTD_d_windowLogMax, MAX_WINDOW_LOG)))
        fail("'{}': cannot start zstd decompression", out.origin());

    ZSTD_inBuffer in{input.data(), input.size(), 0};
    for (;;) {
        std::span<std::uint8_t> room = out.room();
        ZSTD_outBuffer buffer{room.data(), room.size(), 0};
        std::size_t rc = ZSTD_decompressStream(ctx.get(), &buffer, &in);
        out.commit(buffer.pos);
        if (ZSTD_isError(rc)) out.fail_corrupt(ZSTD_getErrorName(rc));
        // 0: the frame is complete. Anything after it is not ours.
        if (rc == 0) return;
        if (in.pos == in.size && buffer.pos < buffer.size) out.fail_truncated();
    }
}

} // namespace vmi::decompress
