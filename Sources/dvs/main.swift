import DVSCommands

DVSCommand.runMain()
