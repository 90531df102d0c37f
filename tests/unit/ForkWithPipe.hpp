#pragma once
// A forked process that runs `body(write end of a pipe)` and then ends with
// status 0 (unless the body ended it first). Returns its pid and the pipe's
// read end, which sees end of file once the child and whatever it started
// are gone. For tests that must see a process die, or give up root.
#include <doctest/doctest.h>

#include <sys/types.h>
#include <unistd.h>
#include <utility>

template <typename Body>
std::pair<pid_t, int> fork_with_pipe(Body body)
{
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(fds[0]);
        body(fds[1]);
        ::_exit(0);
    }
    ::close(fds[1]);
    return {child, fds[0]};
}
