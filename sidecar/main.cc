// tm-sidecar: the pod's sidecar; persists the step's journal to the stores.
#include "cli.h"

int main(int argc, char** argv) {
  return taskmaster::sidecar::Main(taskmaster::Env::Default(), argc, argv);
}
