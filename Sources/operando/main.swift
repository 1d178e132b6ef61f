print("operando")
