import ArgumentParser

Operando.main()
