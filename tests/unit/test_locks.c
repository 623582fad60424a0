/* test_locks.c -- waits for the arena's mutexes (mm_mutex_lock, arena.c).
 *
 * The arena's mutexes are robust and process-shared, and kill -9 of a
 * process that holds or waits for one must not stop the others (format.h,
 * "Locks").  Checked here:
 *   - a holder that dies leaves EOWNERDEAD to the next locker, which
 *     gets the mutex marked consistent;
 *   - a sleeper whose wake-up was lost still gets the mutex once it is
 *     free.  A lost wake-up is what a waiter killed between its wake-up and
 *     its lock leaves behind; the test makes one directly: a thread sleeps
 *     on a mutex whose word names a fake owner, then the word is cleared
 *     without a wake, as that owner's unlock would have done had it not
 *     seen the waiters bit.  glibc keeps the futex word first in
 *     pthread_mutex_t (its __data.__lock), which the test writes.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"
#include "unit.h"

#define FUTEX_WAITERS_BIT 0x80000000u
#define WAIT_S 5                /* for a thread that should finish at once */

static pthread_mutex_t *shared_mutex(void)
{
	pthread_mutex_t *m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_t attr;

	if (m == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(m, &attr);
	pthread_mutexattr_destroy(&attr);
	return m;
}

static _Atomic uint32_t *word_of(pthread_mutex_t *m)
{
	return (_Atomic uint32_t *)(void *)m;
}

static void test_owner_died(void)
{
	pthread_mutex_t *m = shared_mutex();
	pid_t child = fork();

	if (child == 0) {
		pthread_mutex_lock(m);
		_exit(0);               /* holding it */
	}
	waitpid(child, NULL, 0);
	CHECK(mm_mutex_lock(m) == EOWNERDEAD, "a dead holder's mutex");
	pthread_mutex_unlock(m);
	CHECK(mm_mutex_lock(m) == 0, "made consistent by the locker");
	pthread_mutex_unlock(m);
	munmap(m, sizeof(*m));
}

struct sleeper {
	pthread_mutex_t *m;
	atomic_int rc;
	atomic_bool done;
};

static void *sleep_on(void *arg)
{
	struct sleeper *sl = arg;

	atomic_store(&sl->rc, mm_mutex_lock(sl->m));
	if (atomic_load(&sl->rc) == 0)
		pthread_mutex_unlock(sl->m);
	atomic_store(&sl->done, true);
	return NULL;
}

static bool wait_until(atomic_bool *flag, int seconds)
{
	for (int i = 0; i < seconds * 1000 && !atomic_load(flag); i++)
		usleep(1000);
	return atomic_load(flag);
}

static void test_lost_wakeup(void)
{
	pthread_mutex_t *m = shared_mutex();
	struct sleeper sl = { .m = m };
	uint32_t fake_owner = (uint32_t)getpid();   /* not the sleeper */
	pthread_t t;
	bool slept = false;

	atomic_store(word_of(m), fake_owner);
	pthread_create(&t, NULL, sleep_on, &sl);
	for (int i = 0; i < WAIT_S * 1000 && !slept; i++) {
		slept = atomic_load(word_of(m)) & FUTEX_WAITERS_BIT;
		usleep(1000);
	}
	CHECK(slept, "the locker waits for the fake owner");
	atomic_store(word_of(m), 0);            /* an unlock with no wake */
	CHECK(wait_until(&sl.done, WAIT_S), "a sleeper with a lost wake-up "
	      "takes the free mutex");
	if (!atomic_load(&sl.done))             /* let it go, to join it */
		syscall(SYS_futex, word_of(m), FUTEX_WAKE, 1, NULL, NULL, 0);
	pthread_join(t, NULL);
	CHECK(atomic_load(&sl.rc) == 0, "and locks it: %d", atomic_load(&sl.rc));
	munmap(m, sizeof(*m));
}

int main(void)
{
	test_owner_died();
	test_lost_wakeup();
	return unit_exit("test_locks");
}
