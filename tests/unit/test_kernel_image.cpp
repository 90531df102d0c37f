// Compressed kernels back to vmlinux: every compression the kernel's build
// knows, made by the real Debian compressors, bare and inside a bzImage
// header; corrupt, truncated and hostile inputs; the real Debian guest kernel.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "KernelImageBuilder.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/types/KernelImage.hpp"

using namespace vmi_test;
using vmi::KernelCompression;

namespace {

std::string error_of(const Bytes& bytes, const std::string& origin = "vmlinuz-test",
                     std::size_t max_size = vmi::MAX_KERNEL_IMAGE_SIZE)
{
    try {
        vmi::decompress_kernel_image(bytes, origin, max_size);
    } catch (const vmi::Error& e) {
        return e.what();
    }
    return "(no error)";
}

std::string name_of(KernelCompression compression) { return std::string(vmi::compression_name(compression)); }

} // namespace

TEST_CASE("every kernel compression round-trips, bare and inside a bzImage")
{
    TempDir dir;
    const Bytes vmlinux = demo_vmlinux();
    for (KernelCompression compression : ALL_COMPRESSIONS) {
        CAPTURE(name_of(compression));
        Bytes packed = compress(compression, vmlinux, dir);
        CHECK(vmi::detect_compression(packed) == compression);

        vmi::KernelImage bare = vmi::decompress_kernel_image(packed, "vmlinux.packed");
        CHECK(!bare.from_bzimage);
        CHECK(bare.compression == compression);
        CHECK(bare.vmlinux == vmlinux);
        CHECK(bare.describe() == name_of(compression) + "-compressed file");

        Bytes payload = with_size_appended(packed, static_cast<std::uint32_t>(vmlinux.size()));
        vmi::KernelImage boxed = vmi::decompress_kernel_image(fake_bzimage(payload), "vmlinuz");
        CHECK(boxed.from_bzimage);
        CHECK(boxed.compression == compression);
        CHECK(boxed.vmlinux == vmlinux);
        CHECK(boxed.describe() == "bzImage, " + name_of(compression) + "-compressed");
    }
}

TEST_CASE("multi-block streams: lz4 past one 8 MiB legacy block, lzo across many 256 KiB blocks")
{
    TempDir dir;
    const Bytes vmlinux = demo_vmlinux(9 * 1024 * 1024);
    for (KernelCompression compression : {KernelCompression::lz4, KernelCompression::lzo}) {
        CAPTURE(name_of(compression));
        Bytes packed = compress(compression, vmlinux, dir);
        Bytes payload = with_size_appended(packed, static_cast<std::uint32_t>(vmlinux.size()));
        CHECK(vmi::decompress_kernel_image(fake_bzimage(payload), "vmlinuz").vmlinux == vmlinux);
    }
}

TEST_CASE("lz4 legacy frames may be concatenated: the magic between blocks starts a new frame")
{
    TempDir dir;
    const Bytes vmlinux = demo_vmlinux(64 * 1024);
    const Bytes half(vmlinux.begin(), vmlinux.begin() + vmlinux.size() / 2);
    const Bytes rest(vmlinux.begin() + vmlinux.size() / 2, vmlinux.end());
    Bytes first = compress(KernelCompression::lz4, half, dir);
    Bytes second = compress(KernelCompression::lz4, rest, dir);
    first.insert(first.end(), second.begin(), second.end());
    CHECK(vmi::decompress_kernel_image(first, "vmlinux.lz4").vmlinux == vmlinux);
}

TEST_CASE("bzImage header: setup_sects 0 means 4, and the payload must lie inside the file")
{
    TempDir dir;
    const Bytes vmlinux = demo_vmlinux(4096);
    Bytes packed = compress(KernelCompression::gzip, vmlinux, dir);

    Bytes zero_sects = fake_bzimage(packed, 0, 0x100);
    CHECK(vmi::decompress_kernel_image(zero_sects, "vmlinuz").vmlinux == vmlinux);

    Bytes truncated = fake_bzimage(packed);
    truncated.resize(truncated.size() - 4096 - packed.size() / 2);
    CHECK(error_of(truncated).find("'vmlinuz-test': bzImage payload") == 0);
    CHECK(error_of(truncated).find("lies outside the") != std::string::npos);

    Bytes old = fake_bzimage(packed, 3, 0x2cc, 0x206);
    CHECK(error_of(old).find("boot protocol 2.06 is too old") != std::string::npos);

    Bytes uncompressed = fake_bzimage(vmlinux);
    CHECK(error_of(uncompressed) == "'vmlinuz-test': bzImage payload uses no compression known to Linux");
}

TEST_CASE("garbage and wrong files are refused with one clear line")
{
    Bytes garbage(100000);
    std::mt19937 random(7);
    for (auto& b : garbage) b = static_cast<std::uint8_t>(random());
    garbage[0] = 0x42; // no magic by chance
    CHECK(error_of(garbage, "garbage.bin").find("'garbage.bin': not a bzImage and no known kernel compression found") ==
          0);
    CHECK(error_of(Bytes{}, "empty").find("'empty': not a bzImage") == 0);
    CHECK(error_of(Bytes{0x1f}, "short").find("'short': not a bzImage") == 0);

    // A compressed file that is not a kernel.
    TempDir dir;
    Bytes text = compress(KernelCompression::xz, Bytes(5000, 'a'), dir);
    CHECK(error_of(text, "notes.xz") == "'notes.xz': xz-compressed file does not hold a vmlinux ELF file");
}

TEST_CASE("truncated and corrupt streams fail cleanly in every compression")
{
    TempDir dir;
    const Bytes vmlinux = demo_vmlinux(200 * 1024);
    for (KernelCompression compression : ALL_COMPRESSIONS) {
        CAPTURE(name_of(compression));
        Bytes packed = compress(compression, vmlinux, dir);
        std::string name = name_of(compression);

        for (std::size_t keep : {packed.size() / 2, packed.size() - 9, std::size_t{12}}) {
            CAPTURE(keep);
            Bytes cut(packed.begin(), packed.begin() + static_cast<std::ptrdiff_t>(keep));
            std::string error = error_of(cut, "cut");
            CHECK(error.find("'cut': " + name + " data ") == 0);
        }

        // Overwrite the middle with a pattern: either the decoder or its
        // checksum notices, or (lz4 has no checksum) the result is not that ELF.
        Bytes corrupt = packed;
        for (std::size_t i = corrupt.size() / 3; i < corrupt.size() * 2 / 3; ++i)
            corrupt[i] = static_cast<std::uint8_t>(i * 37);
        try {
            vmi::KernelImage image = vmi::decompress_kernel_image(corrupt, "bad");
            CHECK(image.vmlinux != vmlinux);
        } catch (const vmi::Error& e) {
            CHECK(std::string(e.what()).find("'bad': " + name) == 0);
        }
    }
}

TEST_CASE("decompressed size is capped: a small bomb cannot fill the host's memory")
{
    TempDir dir;
    Bytes zeros(4 * 1024 * 1024, 0);
    zeros[0] = 0x7f, zeros[1] = 'E', zeros[2] = 'L', zeros[3] = 'F';
    for (KernelCompression compression : ALL_COMPRESSIONS) {
        CAPTURE(name_of(compression));
        Bytes packed = compress(compression, zeros, dir);
        CHECK(error_of(packed, "bomb", 1024 * 1024) ==
              "'bomb': " + name_of(compression) +
                  " data decompresses to more than 1 MiB, the limit for a kernel image");
        CHECK(vmi::decompress_kernel_image(packed, "bomb", zeros.size()).vmlinux == zeros);
    }
}

TEST_CASE("real Debian kernel: the amd64 guest's vmlinuz decompresses to its vmlinux")
{
    std::string path = guest_kernel_path();
    REQUIRE_MESSAGE(std::filesystem::exists(path), missing_guest_kernel());
    Bytes vmlinuz = read_bytes(path);
    vmi::KernelImage image = vmi::decompress_kernel_image(vmlinuz, path);
    CHECK(image.from_bzimage);
    CHECK(image.compression == KernelCompression::xz); // Debian 12's amd64 kernels
    CHECK(image.vmlinux.size() > 32 * 1024 * 1024);
    CHECK(image.vmlinux[4] == 2); // ELFCLASS64
}
