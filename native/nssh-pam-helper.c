/*
 * nssh-pam-helper: one PAM transaction for nsshd, in its own process (as OpenSSH runs PAM apart from
 * the network-facing code), its conversation relayed over stdin/stdout.
 *
 * Usage: nssh-pam-helper SERVICE USER RHOST MODE FLAGS
 *   MODE  "auth"     pam_authenticate, then pam_acct_mgmt
 *         "account"  pam_acct_mgmt only (the user authenticated another way, e.g. with a key)
 *   FLAGS "empty-ok" to allow empty passwords (PermitEmptyPasswords), "-" otherwise
 *
 * Frames, both ways: one type byte, a 4-byte big-endian length, that many bytes.
 *   helper -> daemon
 *     'P' prompt:  1 byte echo (0 or 1), then the prompt text; answered by 'A' or 'N'
 *     'I' message: 1 byte kind ('i' info, 'e' error), then the text (pam_info / pam_error)
 *     'S' status:  4-byte big-endian PAM code, then "step:pam_strerror text"
 *     'E' env:     the PAM environment (pam_getenvlist) as NUL-separated NAME=value strings
 *   daemon -> helper
 *     'A' answer to a prompt (the text); 'N' no answer (the conversation fails)
 *     'C' command: "chauthtok" (pam_chauthtok PAM_CHANGE_EXPIRED_AUTHTOK), "session" (pam_open_session,
 *         pam_setcred, then 'E'), "end" (close the session if open, pam_end, exit)
 * EOF on stdin is "end". Exit status 0 once the transaction ended in order.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An answer longer than this is refused: PAM itself caps responses at 512 bytes (PAM_MAX_RESP_SIZE). */
#define MAX_FRAME 16384

static int out_fd = -1;

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int send_frame(char type, const void *a, size_t alen, const void *b, size_t blen) {
  unsigned char head[5];
  uint32_t len = (uint32_t)(alen + blen);
  head[0] = (unsigned char)type;
  head[1] = (unsigned char)(len >> 24);
  head[2] = (unsigned char)(len >> 16);
  head[3] = (unsigned char)(len >> 8);
  head[4] = (unsigned char)len;
  if (write_all(out_fd, head, 5) < 0) return -1;
  if (alen && write_all(out_fd, a, alen) < 0) return -1;
  if (blen && write_all(out_fd, b, blen) < 0) return -1;
  return 0;
}

/* Reads one frame; *data is malloc'd and NUL-terminated. Returns the type, or -1 on EOF or error. */
static int read_frame(char **data, size_t *len) {
  unsigned char head[5];
  if (read_all(0, head, 5) < 0) return -1;
  uint32_t n = ((uint32_t)head[1] << 24) | ((uint32_t)head[2] << 16) | ((uint32_t)head[3] << 8) | head[4];
  if (n > MAX_FRAME) return -1;
  char *buf = malloc(n + 1);
  if (!buf) return -1;
  if (n && read_all(0, buf, n) < 0) {
    free(buf);
    return -1;
  }
  buf[n] = '\0';
  *data = buf;
  *len = n;
  return head[0];
}

static void send_status(const char *step, pam_handle_t *pamh, int code) {
  unsigned char c[4] = {(unsigned char)(code >> 24), (unsigned char)(code >> 16), (unsigned char)(code >> 8),
                        (unsigned char)code};
  char text[512];
  snprintf(text, sizeof text, "%s:%s", step, pam_strerror(pamh, code));
  send_frame('S', c, 4, text, strlen(text));
}

static void wipe_free(char *s, size_t len) {
  if (!s) return;
  explicit_bzero(s, len);
  free(s);
}

static int conversation(int num, const struct pam_message **msg, struct pam_response **resp, void *data) {
  (void)data;
  if (num <= 0 || num > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
  struct pam_response *r = calloc((size_t)num, sizeof *r);
  if (!r) return PAM_BUF_ERR;
  for (int i = 0; i < num; i++) {
    const char *text = msg[i]->msg ? msg[i]->msg : "";
    switch (msg[i]->msg_style) {
      case PAM_PROMPT_ECHO_OFF:
      case PAM_PROMPT_ECHO_ON: {
        char echo = msg[i]->msg_style == PAM_PROMPT_ECHO_ON ? 1 : 0;
        if (send_frame('P', &echo, 1, text, strlen(text)) < 0) goto fail;
        char *answer = NULL;
        size_t alen = 0;
        int type = read_frame(&answer, &alen);
        if (type != 'A') {
          wipe_free(answer, alen);
          goto fail;
        }
        r[i].resp = answer;
        break;
      }
      case PAM_TEXT_INFO:
      case PAM_ERROR_MSG: {
        char kind = msg[i]->msg_style == PAM_TEXT_INFO ? 'i' : 'e';
        if (send_frame('I', &kind, 1, text, strlen(text)) < 0) goto fail;
        break;
      }
      default:
        goto fail;
    }
  }
  *resp = r;
  return PAM_SUCCESS;
fail:
  for (int i = 0; i < num; i++)
    if (r[i].resp) wipe_free(r[i].resp, strlen(r[i].resp));
  free(r);
  return PAM_CONV_ERR;
}

static void send_env(pam_handle_t *pamh) {
  char **env = pam_getenvlist(pamh);
  size_t total = 0;
  for (char **e = env; e && *e; e++) total += strlen(*e) + 1;
  char *buf = malloc(total ? total : 1);
  size_t at = 0;
  for (char **e = env; e && *e; e++) {
    size_t l = strlen(*e) + 1;
    if (buf) memcpy(buf + at, *e, l);
    at += l;
    free(*e);
  }
  free(env);
  send_frame('E', buf, buf ? total : 0, NULL, 0);
  free(buf);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: nssh-pam-helper SERVICE USER RHOST auth|account empty-ok|-\n");
    return 2;
  }
  const char *service = argv[1], *user = argv[2], *rhost = argv[3], *mode = argv[4];
  int flags = strcmp(argv[5], "empty-ok") == 0 ? 0 : PAM_DISALLOW_NULL_AUTHTOK;
  signal(SIGPIPE, SIG_IGN);
  /* Frames go out on a private descriptor: whatever a PAM module prints on stdout goes to stderr. */
  out_fd = dup(1);
  if (out_fd < 0 || dup2(2, 1) < 0) return 2;
  fcntl(out_fd, F_SETFD, FD_CLOEXEC);

  struct pam_conv conv = {conversation, NULL};
  pam_handle_t *pamh = NULL;
  int rc = pam_start(service, user, &conv, &pamh);
  if (rc != PAM_SUCCESS) {
    send_status("start", pamh, rc);
    return 1;
  }
  /* As sshd: the client's address, and "ssh" for the tty (OpenSSH auth-pam.c sshpam_init). */
  pam_set_item(pamh, PAM_RHOST, rhost);
  pam_set_item(pamh, PAM_TTY, "ssh");

  if (strcmp(mode, "auth") == 0) {
    rc = pam_authenticate(pamh, flags);
    send_status("authenticate", pamh, rc);
    if (rc != PAM_SUCCESS) {
      pam_end(pamh, rc);
      return 1;
    }
  }
  rc = pam_acct_mgmt(pamh, flags);
  send_status("acct_mgmt", pamh, rc);
  if (rc != PAM_SUCCESS && rc != PAM_NEW_AUTHTOK_REQD) {
    pam_end(pamh, rc);
    return 1;
  }

  int session_open = 0, creds = 0;
  for (;;) {
    char *cmd = NULL;
    size_t len = 0;
    int type = read_frame(&cmd, &len);
    if (type != 'C' || strcmp(cmd, "end") == 0) {
      free(cmd);
      break;
    }
    if (strcmp(cmd, "chauthtok") == 0) {
      rc = pam_chauthtok(pamh, PAM_CHANGE_EXPIRED_AUTHTOK);
      send_status("chauthtok", pamh, rc);
    } else if (strcmp(cmd, "session") == 0 && !session_open) {
      rc = pam_setcred(pamh, PAM_ESTABLISH_CRED);
      if (rc == PAM_SUCCESS) creds = 1;
      if (rc == PAM_SUCCESS) rc = pam_open_session(pamh, 0);
      if (rc == PAM_SUCCESS) session_open = 1;
      send_status("open_session", pamh, rc);
      if (rc == PAM_SUCCESS) send_env(pamh);
    } else {
      send_status(cmd, pamh, PAM_SYSTEM_ERR);
    }
    free(cmd);
  }
  if (session_open) pam_close_session(pamh, 0);
  if (creds) pam_setcred(pamh, PAM_DELETE_CRED);
  pam_end(pamh, PAM_SUCCESS);
  return 0;
}
