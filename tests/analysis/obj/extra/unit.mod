lib/b.o
