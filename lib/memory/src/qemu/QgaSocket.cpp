#include "qemu/QgaSocket.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qemu/QemuJson.hpp"
#include "qemu/UnixSocket.hpp"
#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

// QGA's sentinel: sent first, it makes the agent drop a request another client
// left half-written; received, it marks the start of guest-sync-delimited's answer.
constexpr char SENTINEL = '\xff';
// An answer larger than this is not one we asked for: guest-exec-status
// carries at most 2 x 16 MiB of output, base64-encoded.
constexpr std::size_t MAX_ANSWER_BYTES = 48u << 20;

using Clock = std::chrono::steady_clock;

class Connection {
public:
    Connection(int fd, std::string who, Clock::time_point deadline, std::chrono::milliseconds timeout)
        : fd_(fd), who_(std::move(who)), deadline_(deadline), timeout_(timeout)
    {}
    ~Connection() { ::close(fd_); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void send(const std::string& text) { send_all(fd_, text, who_); }

    // Drops everything up to the next sentinel byte.
    void skip_to_sentinel()
    {
        for (;;) {
            std::size_t at = buffer_.find(SENTINEL);
            if (at != std::string::npos) {
                buffer_.erase(0, at + 1);
                return;
            }
            buffer_.clear();
            receive("the answer to guest-sync-delimited");
        }
    }

    // The next line, parsed (a line that is not JSON: an empty json).
    nlohmann::json line(const std::string& waiting_for)
    {
        for (;;) {
            std::size_t newline = buffer_.find('\n');
            if (newline != std::string::npos) {
                std::string text = buffer_.substr(0, newline);
                buffer_.erase(0, newline + 1);
                if (text.find_first_not_of(" \r\t") == std::string::npos) continue;
                nlohmann::json message = nlohmann::json::parse(text, nullptr, false);
                return message.is_discarded() ? nlohmann::json() : message;
            }
            if (buffer_.size() > MAX_ANSWER_BYTES) fail("{}: an answer larger than an agent sends", who_);
            receive(waiting_for);
        }
    }

private:
    void receive(const std::string& waiting_for)
    {
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
            pollfd p{fd_, POLLIN, 0};
            int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
            if (ready < 0 && errno == EINTR) continue;
            if (ready == 0)
                fail("{}: no {} within {} ms (is the guest paused, its agent not running, or another client "
                     "holding the socket?)",
                     who_, waiting_for, timeout_.count());
            char chunk[65536];
            ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) fail("{}: cannot read: {}", who_, std::strerror(errno));
            if (n == 0) fail("{}: QEMU closed the connection (did it exit?)", who_);
            buffer_.append(chunk, static_cast<std::size_t>(n));
            return;
        }
    }

    int fd_;
    std::string who_;
    Clock::time_point deadline_;
    std::chrono::milliseconds timeout_;
    std::string buffer_;
};

} // namespace

QgaSocket::QgaSocket(std::string path, std::string who, std::chrono::milliseconds timeout)
    : path_(std::move(path)),
      who_(std::move(who)),
      timeout_(timeout),
      next_sync_id_((static_cast<std::uint64_t>(::getpid()) << 20) ^
                    static_cast<std::uint64_t>(Clock::now().time_since_epoch().count() & 0xfffff))
{}

nlohmann::json QgaSocket::command(const std::string& name, const nlohmann::json& arguments)
{
    Connection connection(connect_unix_socket(path_, "guest agent socket", "is the VM's agent enabled?"), who_,
                          Clock::now() + timeout_, timeout_);
    // Answers to an earlier client's requests may still be on their way: only
    // the sync answer that carries our id ends the skipping.
    std::uint64_t id = next_sync_id_++ & 0x7fffffffffffULL;
    connection.send(std::string(1, SENTINEL) + qemu_request("guest-sync-delimited", {{"id", id}}).dump() + "\n");
    for (;;) {
        connection.skip_to_sentinel();
        nlohmann::json answer = connection.line("answer to guest-sync-delimited");
        if (answer.is_object() && answer.contains("return") && answer["return"] == id) break;
    }
    connection.send(qemu_request(name, arguments).dump() + "\n");
    return qemu_returned_value(connection.line("answer to " + name), who_, name);
}

} // namespace vmi
