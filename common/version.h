/* version.h: the release number, shared by the CLI and the build record. */
#ifndef NI_VERSION_H
#define NI_VERSION_H
#define NETIMG_VERSION "0.1.0"
#endif
