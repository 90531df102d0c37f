// run_by_guest_agent over a raw agent socket (Proxmox's VMID.qga), against a
// fake qemu-guest-agent: the sync with its sentinel, stale answers an earlier
// client left, an agent's error, a silent agent and a missing socket.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "vmi/base/Error.hpp"
#include "vmi/memory/QemuGuestAgent.hpp"

using namespace std::chrono_literals;

namespace {

// A listening socket in a fresh folder; serves each connection with `answer`
// (request -> the bytes to send back) until destroyed.
class FakeAgent {
public:
    using Answer = std::function<std::string(const nlohmann::json& request)>;

    explicit FakeAgent(Answer answer) : answer_(std::move(answer))
    {
        char folder[] = "/tmp/vmi-qga-XXXXXX";
        REQUIRE(::mkdtemp(folder) != nullptr);
        folder_ = folder;
        path_ = folder_ + "/101.qga";
        listener_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        path_.copy(address.sun_path, path_.size());
        REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        REQUIRE(::listen(listener_, 4) == 0);
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeAgent()
    {
        stopping_ = true;
        ::shutdown(listener_, SHUT_RDWR);
        thread_.join();
        ::close(listener_);
        ::unlink(path_.c_str());
        ::rmdir(folder_.c_str());
    }
    FakeAgent(const FakeAgent&) = delete;
    FakeAgent& operator=(const FakeAgent&) = delete;

    const std::string& path() const { return path_; }
    int connections() const { return connections_; }

private:
    void serve()
    {
        while (!stopping_) {
            int fd = ::accept(listener_, nullptr, nullptr);
            if (fd < 0) return;
            ++connections_;
            std::string buffer;
            char chunk[4096];
            for (;;) {
                ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
                if (n <= 0) break;
                buffer.append(chunk, static_cast<std::size_t>(n));
                std::size_t newline = 0;
                while ((newline = buffer.find('\n')) != std::string::npos) {
                    std::string line = buffer.substr(0, newline);
                    buffer.erase(0, newline + 1);
                    while (!line.empty() && line[0] == '\xff') line.erase(0, 1); // the client's flush
                    std::string reply = answer_(nlohmann::json::parse(line));
                    if (!reply.empty()) ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
                }
            }
            ::close(fd);
        }
    }

    Answer answer_;
    std::string folder_, path_;
    int listener_ = -1;
    std::atomic<bool> stopping_{false};
    std::atomic<int> connections_{0};
    std::thread thread_;
};

// A working agent that runs one program printing "hello", after answering
// each sync first with what an earlier client left behind.
std::string working_agent(const nlohmann::json& request)
{
    const std::string name = request["execute"];
    if (name == "guest-sync-delimited") {
        auto id = request["arguments"]["id"].get<std::uint64_t>();
        return std::string("{\"return\": {\"pid\": 7}}\n") + "\xff{\"return\": " + std::to_string(id + 1) + "}\n" +
               "\xff{\"return\": " + std::to_string(id) + "}\n";
    }
    if (name == "guest-exec") {
        CHECK(request["arguments"]["path"] == "/bin/sh");
        return "{\"return\": {\"pid\": 42}}\n";
    }
    if (name == "guest-exec-status") {
        CHECK(request["arguments"]["pid"] == 42);
        return R"({"return": {"exited": true, "exitcode": 3, "out-data": "aGVsbG8=", "err-data": ""}})"
               "\n";
    }
    return R"({"error": {"class": "CommandNotFound", "desc": "no such command"}})"
           "\n";
}

vmi::GuestAgentEndpoint endpoint(const std::string& path) { return {{}, {}, path, "Proxmox VM 101 ('web01')"}; }

} // namespace

TEST_CASE("a program run over a raw agent socket: synced past stale answers, one connection per command")
{
    FakeAgent agent(working_agent);
    vmi::GuestCommandResult result = vmi::run_by_guest_agent(endpoint(agent.path()), "/bin/sh", {"-c", "true"}, 10s);
    CHECK(result.pid == 42);
    CHECK(result.exit_code == 3);
    CHECK(result.out == "hello");
    CHECK(result.err.empty());
    CHECK(agent.connections() == 2); // guest-exec, then guest-exec-status: each connected, synced, closed
}

TEST_CASE("an agent's error, a silent agent and a missing socket are errors naming the VM")
{
    SUBCASE("guest-exec refused")
    {
        FakeAgent agent([](const nlohmann::json& request) -> std::string {
            if (request["execute"] == "guest-sync-delimited")
                return "\xff{\"return\": " + request["arguments"]["id"].dump() + "}\n";
            return R"({"error": {"class": "GenericError", "desc": "guest-exec has been disabled"}})"
                   "\n";
        });
        CHECK_THROWS_WITH_AS(vmi::run_by_guest_agent(endpoint(agent.path()), "/bin/sh", {}, 10s),
                             doctest::Contains("guest-exec has been disabled"), vmi::Error);
    }
    SUBCASE("no answer to the sync")
    {
        FakeAgent agent([](const nlohmann::json&) { return std::string(); });
        CHECK_THROWS_WITH_AS(vmi::run_by_guest_agent(endpoint(agent.path()), "/bin/sh", {}, 100ms),
                             doctest::Contains("the guest agent of Proxmox VM 101 ('web01')"), vmi::Error);
    }
    SUBCASE("no socket")
    {
        CHECK_THROWS_WITH_AS(vmi::run_by_guest_agent(endpoint("/nonexistent/101.qga"), "/bin/sh", {}, 1s),
                             doctest::Contains("has no guest agent socket"), vmi::Error);
    }
}
