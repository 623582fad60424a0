/* guard.c -- child processes for work on untrusted arenas (guard.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guard.h"
#include "out.h"

static int wait_child(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int guard_run(const char *what, int (*fn)(void *ctx), void *ctx)
{
	int status, rc, sig;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		out_err(NULL, "fork: %s", strerror(errno));
		return OUT_FAIL;
	}
	if (pid == 0)
		exit(fn(ctx));          /* exit, not _exit: leak checkers run */
	rc = wait_child(pid, &status);
	if (rc) {
		out_err(NULL, "waitpid: %s", strerror(-rc));
		return OUT_FAIL;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	sig = WTERMSIG(status);
	if (sig == SIGPIPE) {
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	out_err(what, "damaged arena? reading it failed (%s)", strsignal(sig));
	return OUT_FAIL;
}

static void child(int fd, int (*fn)(void *ctx, FILE *out), void *ctx)
{
	FILE *out = fdopen(fd, "w");
	int rc = out ? fn(ctx, out) : 255;

	if (out)
		fclose(out);
	_exit(rc);
}

/* Read everything from fd into r->out. */
static int slurp(int fd, struct guard_result *r)
{
	size_t cap = 4096;
	ssize_t n;

	r->out = malloc(cap);
	if (!r->out)
		return -ENOMEM;
	for (;;) {
		if (r->len + 1 == cap) {
			char *p = realloc(r->out, cap * 2);

			if (!p)
				return -ENOMEM;
			r->out = p;
			cap *= 2;
		}
		n = read(fd, r->out + r->len, cap - 1 - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		r->len += (size_t)n;
	}
	r->out[r->len] = '\0';
	return 0;
}

int guard_call(int (*fn)(void *ctx, FILE *out), void *ctx,
	       struct guard_result *r)
{
	int fds[2], status = 0, rc;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(fds[0]);
		close(fds[1]);
		return rc;
	}
	if (pid == 0) {
		close(fds[0]);
		child(fds[1], fn, ctx);
	}
	close(fds[1]);
	rc = slurp(fds[0], r);
	close(fds[0]);
	if (rc)
		kill(pid, SIGKILL);
	if (wait_child(pid, &status) != 0 && rc == 0)
		rc = -ECHILD;
	if (WIFSIGNALED(status)) {
		r->signal = WTERMSIG(status);
		snprintf(r->why, sizeof(r->why), "%s", strsignal(r->signal));
	} else {
		r->status = WEXITSTATUS(status);
		snprintf(r->why, sizeof(r->why), "exit status %d", r->status);
	}
	r->failed = r->signal || r->status;
	if (rc)
		guard_result_free(r);
	return rc;
}

void guard_result_free(struct guard_result *r)
{
	free(r->out);
	r->out = NULL;
	r->len = 0;
}
