"""ScienceWorld behind the episode API: AgentBoard's 90 labelled task/variation pairs on the real simulator."""
