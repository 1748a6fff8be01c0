from digilabo.cli import main

main()
