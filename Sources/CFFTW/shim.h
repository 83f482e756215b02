// FFTW 3, single precision (libfftw3f; Debian libfftw3-dev). Used by DVSLearn for log-mel features.
#include <fftw3.h>
