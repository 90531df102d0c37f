#pragma once
// libbpf prints its complaints to stderr by default. Tools say one line per
// problem, so while libbpf parses, keep its last message for our own error.
#include <bpf/libbpf.h>
#include <cstdarg>
#include <cstdio>
#include <string>

namespace vmi {

class LibbpfMessages {
public:
    LibbpfMessages() : previous_(libbpf_set_print(&LibbpfMessages::keep)) { last().clear(); }
    ~LibbpfMessages() { libbpf_set_print(previous_); }
    LibbpfMessages(const LibbpfMessages&) = delete;
    LibbpfMessages& operator=(const LibbpfMessages&) = delete;

    static std::string& last()
    {
        thread_local std::string message;
        return message;
    }

private:
    static int keep(enum libbpf_print_level level, const char* format, va_list args)
    {
        if (level == LIBBPF_DEBUG) return 0;
        char buffer[512];
        int length = std::vsnprintf(buffer, sizeof buffer, format, args);
        if (length <= 0) return 0;
        std::string message(buffer);
        while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
        if (message.rfind("libbpf: ", 0) == 0) message.erase(0, 8);
        last() = message;
        return 0;
    }

    libbpf_print_fn_t previous_;
};

} // namespace vmi
