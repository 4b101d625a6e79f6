from mlportfolio.cli import main

main()
