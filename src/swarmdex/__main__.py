from swarmdex.cli import main

main()
