// What a QEMU command line says about its QMP socket and its guest's name
// (QemuProcesses.hpp), in the spellings QEMU accepts.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "vmi/memory/QemuProcesses.hpp"

using vmi::guest_name_on_command_line;
using vmi::qmp_socket_on_command_line;

namespace {

using Argv = std::vector<std::string>;

} // namespace

TEST_CASE("qemu command line: -qmp unix:PATH in its spellings")
{
    CHECK(qmp_socket_on_command_line(Argv{"qemu-system-x86_64", "-qmp", "unix:/run/a.sock,server=on,wait=off"}) ==
          "/run/a.sock");
    CHECK(qmp_socket_on_command_line(Argv{"qemu-system-x86_64", "-qmp", "unix:/run/b.sock,server,nowait"}) ==
          "/run/b.sock");
    CHECK(qmp_socket_on_command_line(Argv{"qemu-system-x86_64", "--qmp", "unix:/run/c.sock"}) == "/run/c.sock");
    CHECK(qmp_socket_on_command_line(Argv{"qemu-system-x86_64", "-qmp=unix:/run/d.sock,server"}) == "/run/d.sock");
    CHECK(qmp_socket_on_command_line(Argv{"qemu-system-x86_64", "-qmp", "unix,path=/run/e.sock,server=on"}) ==
          "/run/e.sock");
    // A comma in the path is written twice.
    CHECK(qmp_socket_on_command_line(Argv{"qemu-system-x86_64", "-qmp", "unix:/run/f,,g.sock,server"}) ==
          "/run/f,g.sock");
}

TEST_CASE("qemu command line: a control monitor on a socket chardev")
{
    Argv proxmox{"/usr/bin/kvm",
                 "-id",
                 "101",
                 "-name",
                 "web01,debug-threads=on",
                 "-chardev",
                 "socket,id=qmp,path=/var/run/qemu-server/101.qmp,server=on,wait=off",
                 "-mon",
                 "chardev=qmp,mode=control",
                 "-chardev",
                 "socket,id=serial0,path=/tmp/s.sock,server=on",
                 "-mon",
                 "chardev=serial0"};
    CHECK(qmp_socket_on_command_line(proxmox) == "/var/run/qemu-server/101.qmp");
    CHECK(guest_name_on_command_line(proxmox) == "web01");
    // An HMP (readline) monitor is no QMP socket.
    CHECK_FALSE(qmp_socket_on_command_line(
        Argv{"qemu-system-x86_64", "-chardev", "socket,id=m,path=/tmp/m.sock,server=on", "-mon", "chardev=m"}));
    // A -mon naming a chardev that is no socket.
    CHECK_FALSE(qmp_socket_on_command_line(
        Argv{"qemu-system-x86_64", "-chardev", "stdio,id=m", "-mon", "chardev=m,mode=control"}));
}

TEST_CASE("qemu command line: none, and options cut short")
{
    CHECK_FALSE(qmp_socket_on_command_line(Argv{"qemu-system-x86_64", "-m", "512", "-nographic"}));
    CHECK_FALSE(qmp_socket_on_command_line(Argv{"qemu-system-x86_64", "-qmp"}));
    CHECK_FALSE(qmp_socket_on_command_line(Argv{"qemu-system-x86_64", "-qmp", "tcp:localhost:4444,server"}));
    CHECK_FALSE(qmp_socket_on_command_line(Argv{}));
    CHECK(guest_name_on_command_line(Argv{"qemu-system-x86_64", "-name"}).empty());
}

TEST_CASE("qemu command line: the guest's name")
{
    CHECK(guest_name_on_command_line(Argv{"qemu-system-x86_64", "-name", "guest=lv1,debug-threads=on"}) == "lv1");
    CHECK(guest_name_on_command_line(Argv{"qemu-system-x86_64", "-name", "ci-runner-7"}) == "ci-runner-7");
    CHECK(guest_name_on_command_line(Argv{"qemu-system-x86_64", "-m", "1G"}).empty());
}
