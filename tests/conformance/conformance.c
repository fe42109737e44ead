/* conformance.c — placeholder for the ONNX node-test runner. */
#include <stdio.h>
int main(void) {
  printf("conformance: 0 passed, 0 failed, 0 skipped\n");
  return 0;
}
