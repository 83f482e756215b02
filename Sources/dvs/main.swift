print("dvs")
