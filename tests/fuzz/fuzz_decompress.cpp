// The vmlinuz decompressors. The first byte picks what runs: one stream of
// each compression (decompress_stream), or the whole kernel-image path
// (bzImage header, magic detection, the ELF check: decompress_kernel_image).
// The second byte picks a small output cap, so that bombs hit the cap fast.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "FuzzSupport.hpp"
#include "vmi/types/KernelImage.hpp"

namespace {

constexpr vmi::KernelCompression COMPRESSIONS[] = {
    vmi::KernelCompression::gzip, vmi::KernelCompression::bzip2, vmi::KernelCompression::lzma,
    vmi::KernelCompression::xz,   vmi::KernelCompression::lzo,   vmi::KernelCompression::lz4,
    vmi::KernelCompression::zstd,
};
constexpr std::size_t WHOLE_IMAGE = std::size(COMPRESSIONS);

// The .lzma header's dictionary size (a u32 after the properties byte).
// liblzma allocates it whole; under ASan a 64 MiB one costs 50 ms an input,
// a hundred times the decoding, so the fuzzer keeps to 1 MiB (the library
// itself refuses more than 256 MiB; that check is not what is fuzzed here).
bool large_lzma_dictionary(std::span<const std::uint8_t> stream)
{
    if (stream.size() < 5) return false;
    std::uint32_t dictionary = 0;
    std::memcpy(&dictionary, stream.data() + 1, sizeof dictionary);
    return dictionary > (1u << 20);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    vmi_fuzz::silence_library_messages();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    vmi_fuzz::InputReader in(data, size);
    std::size_t what = in.take<std::uint8_t>() % (WHOLE_IMAGE + 1);
    // 1 KiB to 1 MiB.
    std::size_t max_size = std::size_t{1024} << (in.take<std::uint8_t>() % 11);
    std::span<const std::uint8_t> input = in.rest();
    if (what < WHOLE_IMAGE && COMPRESSIONS[what] == vmi::KernelCompression::lzma && large_lzma_dictionary(input))
        return -1;
    try {
        std::size_t produced = 0;
        if (what == WHOLE_IMAGE) {
            vmi::KernelImage image = vmi::decompress_kernel_image(input, "fuzz.vmlinuz", max_size);
            (void)image.describe();
            produced = image.vmlinux.size();
        } else {
            produced = vmi::decompress_stream(COMPRESSIONS[what], input, "fuzz.bin", max_size).size();
        }
        if (produced > max_size) vmi_fuzz::invariant_failed("output larger than the cap");
    } catch (const vmi::Error& e) {
        vmi_fuzz::check_error(e);
    }
    return 0;
}
