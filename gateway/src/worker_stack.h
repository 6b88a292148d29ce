/* Gives back the stack pages an HTTP worker thread touched while it served a connection. */
#ifndef GATEWAY_WORKER_STACK_H
#define GATEWAY_WORKER_STACK_H

/* Records where the calling thread's stack ends, for gateway_worker_stack_trim. Call it
 * once on each civetweb worker thread (its init_thread callback). Can't fail: a thread
 * whose stack cannot be found is simply never trimmed. */
void gateway_worker_stack_note(void);

/* Releases (MADV_DONTNEED) the calling thread's stack pages below the current frame, less
 * a small margin for the calls still to come; the kernel hands them back as zero pages
 * when touched again. Call it where nothing deeper is live: civetweb's connection_close
 * callback. Does nothing on a thread gateway_worker_stack_note did not see. Can't fail. */
void gateway_worker_stack_trim(void);

#endif
