"""podforge.music"""
