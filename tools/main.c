/* main.c — the `onyx` command: dispatches to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "onyx.h"

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--version")) {
    printf("onyx %s\n", ONYX_VERSION_STRING);
    return argc < 2;
  }
  fprintf(stderr, "onyx: unknown command '%s'\n", argv[1]);
  return 2;
}
