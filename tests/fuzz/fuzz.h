/*
 * What the libFuzzer targets share.
 *
 * SPDX-License-Identifier: ISC
 */

#ifndef IPC_FUZZ_H
#define IPC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A failed check says where and why, then aborts: libFuzzer reports it as
 * a crash and keeps the input that caused it.
 */
#define CHECK(cond, ...)                                                 \
	do {                                                             \
		if (!(cond)) {                                           \
			fprintf(stderr, "%s:%d: check failed: %s: ",     \
				__FILE__, __LINE__, #cond);              \
			fprintf(stderr, __VA_ARGS__);                    \
			fputc('\n', stderr);                             \
			abort();                                         \
		}                                                        \
	} while (0)

#endif /* IPC_FUZZ_H */
