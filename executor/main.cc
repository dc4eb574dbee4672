// tm-step: the static step binary, the main container of each Argo pod.
#include "cli.h"

int main(int argc, char** argv) {
  return taskmaster::step::Main(taskmaster::Env::Default(), argc, argv);
}
