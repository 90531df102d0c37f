#pragma once
// What the fuzz targets share: library messages kept off the fuzzer's log,
// the error contract every target checks, and a reader for input headers.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "vmi/base/Error.hpp"

namespace vmi_fuzz {

// The library warns through stdio's stderr (vmi::diag) and libbpf complains
// there too: once per input that would flood the fuzzer's log and slow it
// down. libFuzzer took its own copy of `stderr` before any target code runs,
// and the sanitizers write to descriptor 2, so pointing stdio's `stderr`
// (glibc lets a program assign it) at /dev/null silences the library only.
// VMI_FUZZ_STDERR=1 keeps the messages, for looking at one input.
inline void silence_library_messages()
{
    if (const char* keep = std::getenv("VMI_FUZZ_STDERR"); keep && std::strcmp(keep, "1") == 0) return;
    if (FILE* null = std::fopen("/dev/null", "w")) stderr = null;
}

// The library's contract for bad input: a vmi::Error whose message is one
// line (tools print it as their one line on stderr). Any other exception
// escapes the target and libFuzzer reports it as a crash.
inline void check_error(const vmi::Error& error)
{
    std::string_view message = error.what();
    if (message.empty() || message.find('\n') != std::string_view::npos) {
        std::fprintf(::stdout, "error message is not one line: [%s]\n", error.what());
        std::fflush(::stdout);
        std::abort();
    }
}

// A violated invariant: print why and abort, so libFuzzer keeps the input.
[[noreturn]] inline void invariant_failed(const std::string& why)
{
    std::fprintf(::stdout, "invariant violated: %s\n", why.c_str());
    std::fflush(::stdout);
    std::abort();
}

// Reads fixed-size fields from the front of the input; past its end every
// field is zero, so each input means something.
class InputReader {
public:
    InputReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    template <typename T>
    T take()
    {
        T value{};
        std::size_t n = std::min(sizeof value, size_ - at_);
        std::memcpy(&value, data_ + at_, n);
        at_ += n;
        return value;
    }
    std::span<const std::uint8_t> rest() const { return {data_ + at_, size_ - at_}; }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t at_ = 0;
};

} // namespace vmi_fuzz
