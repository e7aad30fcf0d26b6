source_lib/b.o := source/lib/b.c

deps_lib/b.o := \
  source/include/x.h \

